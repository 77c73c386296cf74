#include "soundplayer.h"

#include "dashboardlogging.h"

#include <QAudioDevice>
#include <QMediaDevices>
#include <QSoundEffect>

using namespace Qt::StringLiterals;

namespace Herald {

QUrl SoundPlayer::defaultSource()
{
    return QUrl(u"qrc:/herald/notification.wav"_s);
}

SoundPlayer::SoundPlayer(const QUrl &source, QObject *parent)
    : QObject(parent)
{
    // Without an output, QSoundEffect would only produce warnings; do not create one at all.
    const QList<QAudioDevice> outputs = QMediaDevices::audioOutputs();
    if (outputs.isEmpty()) {
        qCInfo(lcSound) << "no audio output device: notification sounds are off";
        return;
    }
    m_effect = new QSoundEffect(QMediaDevices::defaultAudioOutput(), this);
    connect(m_effect, &QSoundEffect::statusChanged, this, [this] {
        if (m_effect->status() == QSoundEffect::Error && !m_failed) {
            m_failed = true;
            qCInfo(lcSound) << "the notification sound could not be loaded: sounds are off";
        }
    });
    m_effect->setSource(source);
    m_effect->setVolume(float(m_volume));
}

SoundPlayer::~SoundPlayer() = default;

void SoundPlayer::setMuted(bool muted)
{
    if (m_muted == muted)
        return;
    m_muted = muted;
    if (muted && m_effect)
        m_effect->stop();
    Q_EMIT mutedChanged(muted);
}

void SoundPlayer::setVolume(double volume)
{
    m_volume = qBound(0.0, volume, 1.0);
    if (m_effect)
        m_effect->setVolume(float(m_volume));
}

bool SoundPlayer::play()
{
    if (m_muted)
        return false;
    ++m_requests;
    if (!isAvailable())
        return false;
    m_effect->play();
    ++m_plays;
    Q_EMIT played();
    return true;
}

} // namespace Herald
